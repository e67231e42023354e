// Only here so that SwiftPM builds the module; the declaration in the header is all there is.
#include "CLibFuzzer.h"
