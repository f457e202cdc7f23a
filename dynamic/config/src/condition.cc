// Placeholder: the condition language is written on its own branch.
#include "atrium/dynamic/config/condition.h"
