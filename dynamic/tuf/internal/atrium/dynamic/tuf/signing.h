// Making TUF metadata: ed25519 keys as TUF names them (key id = SHA-256 of
// the canonical key object) and signed envelopes. The release side uses it;
// tests use it to build repositories they then tamper with.
//
// Concurrency: pure functions.
#ifndef ATRIUM_DYNAMIC_TUF_SIGNING_H_
#define ATRIUM_DYNAMIC_TUF_SIGNING_H_

#include <boost/json.hpp>
#include <span>
#include <string>

#include "atrium/package.h"
#include "atrium/result.h"

namespace atrium::tuf {

// {"keytype":"ed25519","keyval":{"public":"<hex>"},"scheme":"ed25519"}
boost::json::object KeyObject(const PublicKey& key);
// The TUF key id of an ed25519 public key.
std::string TufKeyId(const PublicKey& key);

struct SigningKey {
  SecretKey secret{};
  std::string keyid;  // TufKeyId of its public half
};
SigningKey MakeSigningKey(const SecretKey& secret);

// The file bytes of {"signed": signed_part, "signatures": [...]}, one
// signature per key over the canonical JSON of `signed_part` (JSON text with
// a final newline). kValidation when `signed_part` is not canonicalizable.
Result<std::string> SignMetadata(const boost::json::object& signed_part,
                                 std::span<const SigningKey> keys);

}  // namespace atrium::tuf

#endif  // ATRIUM_DYNAMIC_TUF_SIGNING_H_
