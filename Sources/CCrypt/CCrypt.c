#include "CCrypt.h"
#include <crypt.h>
#include <stdlib.h>
#include <string.h>

int sluice_crypt_check(const char *password, const char *hash) {
    struct crypt_data *data = calloc(1, sizeof(struct crypt_data));
    if (data == NULL) return -1;
    const char *out = crypt_rn(password, hash, data, (int)sizeof(struct crypt_data));
    int result;
    if (out == NULL || out[0] == '*') {
        result = -1;
    } else {
        size_t n = strlen(hash), m = strlen(out);
        unsigned char diff = (unsigned char)(n != m);
        size_t len = n < m ? n : m;
        for (size_t i = 0; i < len; i++) diff |= (unsigned char)(out[i] ^ hash[i]);
        result = diff == 0 ? 1 : 0;
    }
    explicit_bzero(data, sizeof(struct crypt_data));
    free(data);
    return result;
}

int sluice_crypt_supports(const char *prefix) {
    // CRYPT_SALT_METHOD_DISABLED: libxcrypt knows the method but was built without it, so crypt_rn would fail.
    switch (crypt_checksalt(prefix)) {
    case CRYPT_SALT_OK:
    case CRYPT_SALT_METHOD_LEGACY:
    case CRYPT_SALT_TOO_CHEAP:
        return 1;
    default:
        return 0;
    }
}
