#include "banner_layer.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "atrium/dynamic/dynamic_layer.h"

namespace atrium::banner {
namespace {

namespace fs = std::filesystem;

std::string StatePath(const std::string& data_dir) { return data_dir + "/banner/state"; }

void Write(const std::string& data_dir, const std::vector<BannerRow>& rows) {
  fs::create_directories(data_dir + "/banner");
  std::ofstream out(StatePath(data_dir), std::ios::trunc);
  for (const BannerRow& r : rows) out << r.id << ' ' << r.version << ' ' << r.state << '\n';
}

class BannerLayer final : public DynamicLayer {
 public:
  explicit BannerLayer(std::string data_dir) : data_dir_(std::move(data_dir)) {}
  std::string_view kind() const override { return "banner"; }

  Result<std::vector<ActiveArtifact>> ListActive() override {
    std::vector<ActiveArtifact> out;
    for (const BannerRow& r : Read(data_dir_)) {
      if (r.state == "active") out.push_back({{"banner", r.id, r.version}, data_dir_ + "/banner"});
    }
    return out;
  }

  Status Disable(const ArtifactRef& ref, std::string_view) override {
    std::vector<BannerRow> rows = Read(data_dir_);
    bool found = false;
    for (BannerRow& r : rows) {
      if (r.id == ref.id && r.version == ref.version && r.state == "active") {
        r.state = "disabled";
        found = true;
      }
    }
    if (!found) return MakeError(ErrorCode::kNotFound, "that version is not active");
    for (BannerRow& r : rows) {
      if (r.id == ref.id && r.state == "previous") r.state = "active";
    }
    Write(data_dir_, rows);
    return Status::Ok();
  }

  Status RollbackAll(std::string_view, std::vector<std::string>* done) override {
    std::vector<BannerRow> rows = Read(data_dir_);
    std::vector<BannerRow> next;
    for (BannerRow& r : rows) {
      if (r.state != "active") continue;
      bool has_previous = false;
      for (BannerRow& p : rows) {
        if (p.id == r.id && p.state == "previous") {
          p.state = "active";
          has_previous = true;
        }
      }
      r.state = "disabled";
      done->push_back(has_previous ? "rolled banner:" + r.id + "@" + r.version + " back"
                                   : "disabled banner:" + r.id + "@" + r.version +
                                         " (no previous version)");
    }
    Write(data_dir_, rows);
    return Status::Ok();
  }

  Status DisableAll(std::string_view, std::vector<std::string>* done) override {
    std::vector<BannerRow> rows = Read(data_dir_);
    for (BannerRow& r : rows) r.state = "disabled";
    Write(data_dir_, rows);
    done->push_back("disabled every banner");
    return Status::Ok();
  }

  Status ClearDerivedData(std::vector<std::string>*) override { return Status::Ok(); }

 private:
  const std::string data_dir_;
};

}  // namespace

void Install(const std::string& data_dir, const std::string& id, const std::string& version) {
  std::vector<BannerRow> rows;
  for (BannerRow& r : Read(data_dir)) {
    if (r.id != id) {
      rows.push_back(r);
    } else if (r.state == "active") {
      rows.push_back({r.id, r.version, "previous"});
    }
  }
  rows.push_back({id, version, "active"});
  Write(data_dir, rows);
}

std::vector<BannerRow> Read(const std::string& data_dir) {
  std::vector<BannerRow> rows;
  std::ifstream in(StatePath(data_dir));
  BannerRow r;
  while (in >> r.id >> r.version >> r.state) rows.push_back(r);
  return rows;
}

}  // namespace atrium::banner

ATRIUM_REGISTER_DYNAMIC_LAYER(([] {
  atrium::DynamicLayerSpec spec;
  spec.kind = "banner";
  spec.activation = atrium::ActivationPoint::kNextOpen;
  spec.description = "test banners (tests/dynamic/banner)";
  spec.create = [](const atrium::DynamicLayerContext& ctx)
      -> atrium::Result<std::unique_ptr<atrium::DynamicLayer>> {
    return std::unique_ptr<atrium::DynamicLayer>(
        std::make_unique<atrium::banner::BannerLayer>(ctx.data_dir));
  };
  return spec;
}()));
