// What the config layer knows of the device for conditions: read from the
// machine (uname, the locale environment, DMI product name, memory, cores),
// each overridable by the host through the environment
// (ATRIUM_DEVICE_OS, _LOCALE, _COUNTRY, _MODEL, _MEMORY_MB, _CORES) for the
// facts only it knows (a phone's model and country).
//
// Concurrency: reads the environment; call from one thread at a time.
#ifndef ATRIUM_DYNAMIC_CONFIG_DEVICE_FACTS_H_
#define ATRIUM_DYNAMIC_CONFIG_DEVICE_FACTS_H_

#include <cstdint>
#include <string_view>

#include "atrium/dynamic/config/condition.h"

namespace atrium::config {

// Fills os, locale, country, model, memory_mb and cores of `context`.
void ReadDeviceFacts(DeviceContext* context);
// A fingerprint of everything but the time (the cache key of evaluated values).
uint64_t ContextFingerprint(const DeviceContext& context);

}  // namespace atrium::config

#endif  // ATRIUM_DYNAMIC_CONFIG_DEVICE_FACTS_H_
