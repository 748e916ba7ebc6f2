#include "base/error_codes.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace uvm {
namespace {

TEST(CodeFromErrnoTest, MapsEachDocumentedErrnoToItsCode) {
  struct Case {
    int err;
    ErrorCode code;
  };
  const Case cases[] = {
      {ENOENT, ErrorCode::kNotFound},
      {ESRCH, ErrorCode::kNotFound},
      {ENXIO, ErrorCode::kNotFound},
      {ENODEV, ErrorCode::kGone},
      {EACCES, ErrorCode::kPermission},
      {EPERM, ErrorCode::kPermission},
      {EROFS, ErrorCode::kPermission},
      {ENOSPC, ErrorCode::kResourceExhausted},
      {EDQUOT, ErrorCode::kResourceExhausted},
      {EMFILE, ErrorCode::kResourceExhausted},
      {ENFILE, ErrorCode::kResourceExhausted},
      {ENOMEM, ErrorCode::kResourceExhausted},
      {ENOBUFS, ErrorCode::kResourceExhausted},
      {ECONNREFUSED, ErrorCode::kUnavailable},
      {ECONNRESET, ErrorCode::kUnavailable},
      {ECONNABORTED, ErrorCode::kUnavailable},
      {EPIPE, ErrorCode::kUnavailable},
      {ENOTCONN, ErrorCode::kUnavailable},
      {EHOSTUNREACH, ErrorCode::kUnavailable},
      {ENETUNREACH, ErrorCode::kUnavailable},
      {EAGAIN, ErrorCode::kUnavailable},
      {EBUSY, ErrorCode::kUnavailable},
      {ETIMEDOUT, ErrorCode::kDeadline},
      {EINVAL, ErrorCode::kInvalidInput},
      {ELOOP, ErrorCode::kInvalidInput},
      {EXDEV, ErrorCode::kInvalidInput},
      {ENOTDIR, ErrorCode::kInvalidInput},
      {EISDIR, ErrorCode::kInvalidInput},
      {ENAMETOOLONG, ErrorCode::kInvalidInput},
      {ERANGE, ErrorCode::kInvalidInput},
      {EEXIST, ErrorCode::kInvalidInput},
      {EOPNOTSUPP, ErrorCode::kUnsupported},
      {ENOSYS, ErrorCode::kUnsupported},
      {EAFNOSUPPORT, ErrorCode::kUnsupported},
      {EPROTONOSUPPORT, ErrorCode::kUnsupported},
      {EIO, ErrorCode::kInternal},
      {EBADF, ErrorCode::kInternal},
      {0, ErrorCode::kInternal},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(CodeFromErrno(c.err), c.code) << "errno " << c.err << " expected " << ErrorCodeName(c.code)
                                            << ", got " << ErrorCodeName(CodeFromErrno(c.err));
  }
}

TEST(SysErrorTest, KeepsTheMessageAndCarriesCodeAndErrno) {
  Error e = SysError(ENODEV, "/sys/fs/cgroup/memory/x/memory.usage_in_bytes: read: No such device");
  EXPECT_EQ(e.message, "/sys/fs/cgroup/memory/x/memory.usage_in_bytes: read: No such device");
  EXPECT_EQ(e.code, ErrorCode::kGone);
  EXPECT_EQ(e.sys_errno, ENODEV);
}

TEST(WithMessageTest, ReplacesOnlyTheMessage) {
  Error e = WithMessage(SysError(EACCES, "x: Permission denied"), "pod p: x: Permission denied");
  EXPECT_EQ(e.message, "pod p: x: Permission denied");
  EXPECT_EQ(e.code, ErrorCode::kPermission);
  EXPECT_EQ(e.sys_errno, EACCES);
}

TEST(CodeFromGrpcStatusTest, MapsEveryStatusCode) {
  // grpc/doc/statuscodes.md numbering.
  const ErrorCode expected[] = {
      ErrorCode::kInternal,           // 0 OK (not an error: never asked, internal if it is)
      ErrorCode::kUnavailable,        // 1 CANCELLED
      ErrorCode::kInternal,           // 2 UNKNOWN
      ErrorCode::kInvalidInput,       // 3 INVALID_ARGUMENT
      ErrorCode::kDeadline,           // 4 DEADLINE_EXCEEDED
      ErrorCode::kNotFound,           // 5 NOT_FOUND
      ErrorCode::kInvalidInput,       // 6 ALREADY_EXISTS
      ErrorCode::kPermission,         // 7 PERMISSION_DENIED
      ErrorCode::kResourceExhausted,  // 8 RESOURCE_EXHAUSTED
      ErrorCode::kInvalidInput,       // 9 FAILED_PRECONDITION
      ErrorCode::kUnavailable,        // 10 ABORTED
      ErrorCode::kInvalidInput,       // 11 OUT_OF_RANGE
      ErrorCode::kUnsupported,        // 12 UNIMPLEMENTED
      ErrorCode::kInternal,           // 13 INTERNAL
      ErrorCode::kUnavailable,        // 14 UNAVAILABLE
      ErrorCode::kInternal,           // 15 DATA_LOSS
      ErrorCode::kPermission,         // 16 UNAUTHENTICATED
      ErrorCode::kInternal,           // 17: not a code
  };
  for (int code = 0; code < static_cast<int>(std::size(expected)); ++code) {
    EXPECT_EQ(CodeFromGrpcStatus(code), expected[code]) << "gRPC code " << code;
  }
}

}  // namespace
}  // namespace uvm
