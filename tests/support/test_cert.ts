/**
 * A self-signed P-256 certificate for localhost and 127.0.0.1, valid until
 * 2125, made for these tests with `openssl req -x509 -newkey ec ...`, and its
 * key. Shared by every TLS test, whatever the runtime.
 *
 * @module
 */

/** The certificate (PEM); trust it as a CA to connect. */
export const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBmDCCAT6gAwIBAgIUUxbd8+rhzg3pb3vYwTSDZ5O6dU8wCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNjAwNTYxNloYDzIxMjYxMTAy
MDA1NjE2WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATvc0Q/ilB5R1xN0GL10A7lfX6Gu5F5ZjE+kvfS4f/UNg/l4T0Z4UF5
rO4rCIXmuhvLoQ317Rrrvk9zQg7x/utAo2wwajAdBgNVHQ4EFgQUoFeFuGu1gN2g
JPYNfxKhYR4rgZUwHwYDVR0jBBgwFoAUoFeFuGu1gN2gJPYNfxKhYR4rgZUwGgYD
VR0RBBMwEYIJbG9jYWxob3N0hwR/AAABMAwGA1UdEwEB/wQCMAAwCgYIKoZIzj0E
AwIDSAAwRQIge1ufcro/nU9OQRtEpQOGrNZZVqXoNjvTsPNpXahy+/cCIQDPZBSe
jwCz/qoGgxXWJwO5xA5+pBJIwvgbcdTif8IYog==
-----END CERTIFICATE-----
`;
/** The certificate's private key (PEM). */
export const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQglof8u2blCAK6LWsD
k1MiSPbmEeFNVWFDCnNUVvPP3OehRANCAATvc0Q/ilB5R1xN0GL10A7lfX6Gu5F5
ZjE+kvfS4f/UNg/l4T0Z4UF5rO4rCIXmuhvLoQ317Rrrvk9zQg7x/utA
-----END PRIVATE KEY-----
`;
