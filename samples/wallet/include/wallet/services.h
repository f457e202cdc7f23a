// Service interfaces the sample wallet's bundles share. Each bundle is its
// own shared library; these headers are the only thing they have in common.
#ifndef WALLET_SERVICES_H_
#define WALLET_SERVICES_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "atrium/result.h"

namespace wallet {

// Provided by com.wallet.account; the balance lives in its private store.
class AccountService {
 public:
  static constexpr std::string_view kInterfaceId = "com.wallet.account.AccountService";
  virtual ~AccountService() = default;
  virtual std::string Holder() const = 0;
  virtual int64_t BalanceCents() const = 0;
  virtual atrium::Status Debit(int64_t cents, std::string_view memo) = 0;
};

// Provided by com.wallet.risk.
class RiskService {
 public:
  static constexpr std::string_view kInterfaceId = "com.wallet.risk.RiskService";
  virtual ~RiskService() = default;
  // 0 (safe) .. 100 (block).
  virtual int Score(int64_t cents, std::string_view payee) const = 0;
};

// Provided by com.wallet.transfer.
class TransferService {
 public:
  static constexpr std::string_view kInterfaceId = "com.wallet.transfer.TransferService";
  virtual ~TransferService() = default;
  virtual atrium::Status Send(int64_t cents, std::string_view payee) = 0;
};

inline std::string FormatCents(int64_t cents) {
  std::string sign = cents < 0 ? "-" : "";
  if (cents < 0) cents = -cents;
  std::string frac = std::to_string(cents % 100);
  if (frac.size() < 2) frac = "0" + frac;
  return sign + std::to_string(cents / 100) + "." + frac;
}

}  // namespace wallet

#endif  // WALLET_SERVICES_H_
