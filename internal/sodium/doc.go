// Package sodium is a test-only cgo binding to the system libsodium
// (Debian's libsodium-dev 1.0.18, the C library the broker's JavaScript
// libsodium is compiled from). It exists so that tests can check every
// crypto vector against a second, independent implementation.
//
// Everything is behind the "sodium" build tag: the meshctl binary never
// links libsodium, and `go test ./...` without the tag compiles nothing
// here. Run the cross-checks with `go test -tags sodium ./...` on a
// machine with libsodium-dev installed.
package sodium
