// Where ErrorCodes come from: the errno of a failed syscall and the status code of a failed gRPC call,
// mapped once here so that every room classifies a failure the same way. Header-only, std only.
#pragma once

#include <cerrno>
#include <string>
#include <utility>

#include "base/result.h"

namespace uvm {

// errno -> ErrorCode:
//   ENOENT ESRCH ENXIO                                  not found
//   ENODEV                                              gone: kernfs answers a read or write on a kept fd of
//                                                       a removed cgroup with ENODEV (fs/kernfs/file.c)
//   EACCES EPERM EROFS                                  permission
//   ENOSPC EDQUOT EMFILE ENFILE ENOMEM ENOBUFS          resource exhausted
//   ECONNREFUSED ECONNRESET ECONNABORTED EPIPE ENOTCONN
//   EHOSTUNREACH ENETUNREACH EAGAIN EBUSY               unavailable (a peer down, or busy: try again later)
//   ETIMEDOUT                                           deadline
//   EINVAL ELOOP EXDEV ENOTDIR EISDIR ENAMETOOLONG
//   ERANGE EEXIST                                       invalid input
//   EOPNOTSUPP ENOSYS EAFNOSUPPORT EPROTONOSUPPORT      unsupported
//   anything else (EIO, EBADF, ...)                     internal
// EINVAL is invalid input, also on a cgroup control-file write: the kernel refused the value itself (a v1
// memory limit above memsw, a CFS quota out of bounds, a PSI window without CAP_SYS_RESOURCE), so writing
// the same value again cannot succeed; a missing feature shows as a missing file (not found) or
// EOPNOTSUPP. ELOOP/EXDEV/ENOTDIR are what our no-symlink, stay-beneath opens refuse: a hostile path.
constexpr ErrorCode CodeFromErrno(int err) {
  switch (err) {
    case ENOENT:
    case ESRCH:
    case ENXIO:
      return ErrorCode::kNotFound;
    case ENODEV:
      return ErrorCode::kGone;
    case EACCES:
    case EPERM:
    case EROFS:
      return ErrorCode::kPermission;
    case ENOSPC:
    case EDQUOT:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ENOBUFS:
      return ErrorCode::kResourceExhausted;
    case ECONNREFUSED:
    case ECONNRESET:
    case ECONNABORTED:
    case EPIPE:
    case ENOTCONN:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EAGAIN:
    case EBUSY:
      return ErrorCode::kUnavailable;
    case ETIMEDOUT:
      return ErrorCode::kDeadline;
    case EINVAL:
    case ELOOP:
    case EXDEV:
    case ENOTDIR:
    case EISDIR:
    case ENAMETOOLONG:
    case ERANGE:
    case EEXIST:
      return ErrorCode::kInvalidInput;
    case EOPNOTSUPP:
    case ENOSYS:
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
      return ErrorCode::kUnsupported;
    default:
      return ErrorCode::kInternal;
  }
}

// The Error of a failed syscall: `message` as given (it names the path and says what failed), the code
// from CodeFromErrno and `err` itself.
inline Error SysError(int err, std::string message) {
  return Error{.message = std::move(message), .code = CodeFromErrno(err), .sys_errno = err};
}

// An error of malformed or refused input (a parser's, a validator's): code kInvalidInput.
inline Error InvalidInput(std::string message) {
  return Error{.message = std::move(message), .code = ErrorCode::kInvalidInput};
}

// `error` with its message replaced (to add context); the code and errno stay.
inline Error WithMessage(Error error, std::string message) {
  error.message = std::move(message);
  return error;
}

// gRPC status code (the numbers of the protocol, grpc/doc/statuscodes.md) -> ErrorCode:
//   CANCELLED(1) ABORTED(10) UNAVAILABLE(14)                      unavailable: no answer, try again
//   DEADLINE_EXCEEDED(4)                                          deadline
//   INVALID_ARGUMENT(3) ALREADY_EXISTS(6) FAILED_PRECONDITION(9)
//   OUT_OF_RANGE(11)                                              invalid input
//   NOT_FOUND(5)                                                  not found
//   PERMISSION_DENIED(7) UNAUTHENTICATED(16)                      permission
//   RESOURCE_EXHAUSTED(8)                                         resource exhausted
//   UNIMPLEMENTED(12)                                             unsupported
//   OK(0) UNKNOWN(2) INTERNAL(13) DATA_LOSS(15), anything else     internal
// CANCELLED is unavailable because this project cancels calls only to stop waiting (SIGTERM, a client
// that left): the peer's answer is unknown, as when it is down.
constexpr ErrorCode CodeFromGrpcStatus(int grpc_code) {
  switch (grpc_code) {
    case 1:
    case 10:
    case 14:
      return ErrorCode::kUnavailable;
    case 4:
      return ErrorCode::kDeadline;
    case 3:
    case 6:
    case 9:
    case 11:
      return ErrorCode::kInvalidInput;
    case 5:
      return ErrorCode::kNotFound;
    case 7:
    case 16:
      return ErrorCode::kPermission;
    case 8:
      return ErrorCode::kResourceExhausted;
    case 12:
      return ErrorCode::kUnsupported;
    default:
      return ErrorCode::kInternal;
  }
}

}  // namespace uvm
