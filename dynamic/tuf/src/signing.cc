#include "atrium/dynamic/tuf/signing.h"

#include <sodium.h>

#include "atrium/base/hex.h"
#include "atrium/base/result_macros.h"
#include "atrium/dynamic/tuf/canonical_json.h"
#include "atrium/dynamic/tuf/metadata.h"

namespace atrium::tuf {
namespace json = boost::json;

json::object KeyObject(const PublicKey& key) {
  json::object o;
  o["keytype"] = "ed25519";
  o["scheme"] = "ed25519";
  json::object keyval;
  keyval["public"] = internal::HexOf(key.data(), key.size());
  o["keyval"] = std::move(keyval);
  return o;
}

std::string TufKeyId(const PublicKey& key) {
  // A key object has no floats, so it always canonicalizes.
  return Sha256Hex(*CanonicalJson(json::value(KeyObject(key))));
}

SigningKey MakeSigningKey(const SecretKey& secret) {
  SigningKey k;
  k.secret = secret;
  k.keyid = TufKeyId(PublicKeyOf(secret));
  return k;
}

Result<std::string> SignMetadata(const json::object& signed_part,
                                 std::span<const SigningKey> keys) {
  static const bool ready = sodium_init() >= 0;
  ATRIUM_CHECK(ready, "libsodium failed to initialise");
  ATRIUM_ASSIGN_OR_RETURN(std::string canonical, CanonicalJson(json::value(signed_part)));
  json::array sigs;
  for (const SigningKey& k : keys) {
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(canonical.data()),
                         canonical.size(), k.secret.data());
    json::object s;
    s["keyid"] = k.keyid;
    s["sig"] = internal::HexOf(sig, sizeof sig);
    sigs.push_back(std::move(s));
  }
  json::object envelope;
  envelope["signatures"] = std::move(sigs);
  envelope["signed"] = signed_part;
  return json::serialize(envelope) + "\n";
}

}  // namespace atrium::tuf
