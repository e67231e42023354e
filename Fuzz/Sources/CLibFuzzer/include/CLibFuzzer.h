#ifndef SLUICE_CLIBFUZZER_H
#define SLUICE_CLIBFUZZER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (in libclang_rt.fuzzer). SwiftPM links a debug executable with `main` pointing at
/// `<Module>_main`, so libFuzzer's own `main` is never pulled in: each target's `<Module>_main` calls this instead.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
