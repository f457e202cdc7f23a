// Placeholder: written with the condition language.
#include "atrium/base/bucket.h"
