// A shared library that is not a bundle: no atrium_bundle_entry symbol.
extern "C" __attribute__((visibility("default"))) int not_a_bundle(void) { return 42; }
