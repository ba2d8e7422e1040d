// Package clients holds, one folder per target, the typed clients of the
// services' internal gRPC APIs (api/proto): the only way one service calls
// another. Each client speaks plain Go values and classified faults, so a
// caller never handles protobuf messages or gRPC codes.
package clients
