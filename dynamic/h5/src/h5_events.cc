// H5Server's native events (h5_server.h, point 4): Emit, the long poll
// of POST /__atrium/events, the held polls and the one timer that expires
// them.
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cstdint>
#include <optional>
#include <utility>

#include "h5_replies.h"
#include "h5_server.h"

namespace atrium::h5 {
namespace {

namespace bhttp = boost::beast::http;
namespace json = boost::json;

// The scheduler's timer that expires held polls may run a little before a
// poll's deadline by the clock; it takes what is due within this.
constexpr int64_t kExpirySlackNs = 250'000'000;

bool IsEventName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' ||
          c == '-')) {
      return false;
    }
  }
  return true;
}

// The answer to a poll with cursor `after`: the kept events after it.
std::string EventsBody(const std::deque<H5ServerEvent>& recent, uint64_t last, uint64_t after) {
  std::string events;
  uint64_t first = last + 1;  // the oldest kept event's number
  for (const H5ServerEvent& e : recent) {
    first = std::min(first, e.seq);
    if (e.seq <= after) continue;
    if (!events.empty()) events += ',';
    events += e.json;
  }
  const uint64_t missed = first > after + 1 ? first - after - 1 : 0;
  return "{\"events\":[" + events + "],\"next\":" + std::to_string(last) +
         ",\"missed\":" + std::to_string(missed) + "}";
}

}  // namespace

void H5Server::Poll(http::Request& req, const std::string& app, http::Answer& answer) {
  json::value body;
  std::shared_ptr<const PageSession> session = CheckBridgeRequest(req, app, answer, body);
  if (session == nullptr) return;
  auto refuse = [&](const std::string& why) {
    counters_->bridge_refused.fetch_add(1);
    answer(JsonError(req, ErrorCode::kInvalidArgument, why));
  };
  const json::object& o = body.get_object();
  const json::value* after_value = o.if_contains("after");
  const json::value* page_value = o.if_contains("page");
  const std::string shape =
      "an event poll is {\"after\": N, \"page\": id} (N the \"next\" of the last answer, "
      "omitted the first time; id the document's own, [0-9a-z-]{1,40})";
  if (o.size() != (after_value != nullptr ? 1u : 0u) + (page_value != nullptr ? 1u : 0u) ||
      (after_value != nullptr &&
       !(after_value->is_uint64() || (after_value->is_int64() && after_value->get_int64() >= 0)))) {
    return refuse(shape);
  }
  std::string document;
  if (page_value != nullptr) {
    const json::string* id = page_value->if_string();
    bool ok = id != nullptr && !id->empty() && id->size() <= 40;
    for (size_t i = 0; ok && i < id->size(); ++i) {
      const char c = (*id)[i];
      ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-';
    }
    if (!ok) return refuse(shape);
    document = std::string(*id);
  }
  const uint64_t after = after_value == nullptr ? session->events_from
                         : after_value->is_uint64()
                             ? after_value->get_uint64()
                             : static_cast<uint64_t>(after_value->get_int64());
  if (after < session->events_from) {
    return refuse("event cursor " + std::to_string(after) +
                  " is before this page load opened (event " +
                  std::to_string(session->events_from) + ")");
  }
  const unsigned version = req.version();
  std::optional<HeldPoll> bumped;  // answered outside the lock
  std::unique_lock<std::mutex> lock(events_->mu);
  if (events_->stopped) {
    lock.unlock();
    return answer(JsonError(req, ErrorCode::kState, "the H5 server is stopping"));
  }
  AppEvents& ev = events_->apps[app];
  if (after > ev.last) {
    lock.unlock();
    return refuse("event cursor " + std::to_string(after) + " is ahead of the app's last event " +
                  std::to_string(ev.last));
  }
  if (ev.last > after) {
    std::string reply = EventsBody(ev.recent, ev.last, after);
    lock.unlock();
    counters_->polls.fetch_add(1);
    return answer(JsonReply(version, std::move(reply)));
  }
  // One held poll per document: a new one ends its older one (whose
  // connection the browser gave up). Other documents of the page load
  // (frames, a reload) hold theirs, up to kMaxPollsPerSession.
  auto same = std::find_if(ev.held.begin(), ev.held.end(), [&](const HeldPoll& h) {
    return h.session == session && h.document == document;
  });
  if (same != ev.held.end()) {
    bumped = std::move(*same);
    ev.held.erase(same);
  } else {
    size_t documents = 0;
    for (const HeldPoll& h : ev.held) documents += h.session == session ? 1 : 0;
    if (documents >= kMaxPollsPerSession) {
      lock.unlock();
      counters_->bridge_refused.fetch_add(1);
      http::Reply res = JsonError(req, ErrorCode::kState,
                                  "too many documents of this page load listen for events (" +
                                      std::to_string(kMaxPollsPerSession) + ")");
      std::visit([](auto& r) { r.result(bhttp::status::too_many_requests); }, res);
      return answer(std::move(res));
    }
  }
  HeldPoll held;
  held.session = session;
  held.document = std::move(document);
  held.after = after;
  held.deadline_ns = events_->clock->SteadyNs() + kPollHoldMs * 1'000'000;
  held.version = version;
  held.answer = std::move(answer);
  ev.held.push_back(std::move(held));
  lock.unlock();
  if (bumped) {
    counters_->polls.fetch_add(1);
    bumped->answer(JsonReply(bumped->version, EventsBody({}, bumped->after, bumped->after)));
  }
  ArmTimer(events_, counters_);
}

void H5Server::ArmTimer(const std::shared_ptr<Events>& events,
                        const std::shared_ptr<Counters>& counters) {
  int64_t delay_ms = 0;
  {
    std::lock_guard<std::mutex> lock(events->mu);
    if (events->timer_armed || events->stopped || !events->post_delayed) return;
    int64_t earliest = INT64_MAX;
    for (const auto& [app, ev] : events->apps) {
      for (const HeldPoll& h : ev.held) earliest = std::min(earliest, h.deadline_ns);
    }
    if (earliest == INT64_MAX) return;
    delay_ms = std::max<int64_t>(1, (earliest - events->clock->SteadyNs() + 999'999) / 1'000'000);
    events->timer_armed = true;
  }
  const bool posted = events->post_delayed(
      [weak = std::weak_ptr<Events>(events), counters] {
        if (auto e = weak.lock()) ExpireHeld(e, counters, kExpirySlackNs, /*timer=*/true);
      },
      delay_ms);
  if (!posted) {  // the HTTP handler timeout (503) ends them instead
    std::lock_guard<std::mutex> lock(events->mu);
    events->timer_armed = false;
  }
}

void H5Server::ExpireHeldPolls() { ExpireHeld(events_, counters_, 0, /*timer=*/false); }

void H5Server::ExpireHeld(const std::shared_ptr<Events>& events,
                          const std::shared_ptr<Counters>& counters, int64_t slack_ns, bool timer) {
  std::vector<HeldPoll> due;
  {
    std::lock_guard<std::mutex> lock(events->mu);
    if (timer) events->timer_armed = false;
    const int64_t now = events->clock->SteadyNs() + slack_ns;
    for (auto& [app, ev] : events->apps) {
      auto keep = std::partition(ev.held.begin(), ev.held.end(),
                                 [&](const HeldPoll& h) { return h.deadline_ns > now; });
      for (auto it = keep; it != ev.held.end(); ++it) due.push_back(std::move(*it));
      ev.held.erase(keep, ev.held.end());
    }
  }
  for (HeldPoll& h : due) {
    counters->polls.fetch_add(1);
    h.answer(JsonReply(h.version, EventsBody({}, h.after, h.after)));
  }
  if (timer) ArmTimer(events, counters);
}

Result<std::string> CheckEvent(std::string_view name, std::string_view data) {
  if (!IsEventName(name)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "event name \"" + std::string(name.substr(0, 80)) +
                         "\" is not [A-Za-z0-9_.:-], 1 to 64 characters");
  }
  if (data.size() > kMaxEventBytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "event " + std::string(name) + ": " + std::to_string(data.size()) +
                         " bytes of data, over the limit of " + std::to_string(kMaxEventBytes));
  }
  boost::system::error_code ec;
  json::value parsed = json::parse(data, ec);
  if (ec) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "event " + std::string(name) + ": its data is not JSON: " + ec.message());
  }
  json::object event;
  event["event"] = name;
  event["data"] = std::move(parsed);
  return json::serialize(event);
}

Result<size_t> H5Server::Emit(std::string_view app_id, std::string_view name,
                              std::string_view data) {
  auto checked = CheckEvent(name, data);
  if (!checked.ok()) return checked.error();
  std::string text = std::move(checked).value();
  std::vector<std::pair<HeldPoll, std::string>> answers;
  {
    std::lock_guard<std::mutex> lock(events_->mu);
    auto it = events_->apps.find(std::string(app_id));
    if (events_->stopped || it == events_->apps.end()) return size_t{0};  // never opened
    AppEvents& ev = it->second;
    ev.recent.push_back(H5ServerEvent{++ev.last, std::move(text)});
    if (ev.recent.size() > kMaxRecentEvents) ev.recent.pop_front();
    for (HeldPoll& h : ev.held) {
      std::string body = EventsBody(ev.recent, ev.last, h.after);
      answers.emplace_back(std::move(h), std::move(body));
    }
    ev.held.clear();
  }
  counters_->events.fetch_add(1);
  for (auto& [h, body] : answers) {
    counters_->polls.fetch_add(1);
    h.answer(JsonReply(h.version, std::move(body)));
  }
  size_t open = 0;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [token, session] : sessions_) open += session->app_id == app_id ? 1 : 0;
  return open;
}

}  // namespace atrium::h5
