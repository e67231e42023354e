#ifndef SLUICE_CCRYPT_H
#define SLUICE_CCRYPT_H

/// Checks `password` against a crypt(3) `hash` (bcrypt `$2y$`/`$2b$`, sha-crypt `$5$`/`$6$`, yescrypt `$y$`)
/// with libxcrypt's reentrant `crypt_rn`, comparing in constant time. Returns 1 on a match, 0 on a mismatch, -1
/// when the hash's method is not supported or the hash is malformed. Thread-safe; it blocks for as long as the
/// hash's cost says (a bcrypt cost of 10 is tens of milliseconds): never call it on an event loop.
int sluice_crypt_check(const char *password, const char *hash);

/// Whether libxcrypt can check hashes that start like `prefix` (for example "$2y$"): 1 or 0.
int sluice_crypt_supports(const char *prefix);

#endif
