// Errors as values. GCC 12 has std::expected in C++23 mode, but clang-14 (the libFuzzer compiler Debian
// ships) cannot compile libstdc++'s <expected> (it needs __cpp_concepts >= 202002), so the code shared by
// both compilers uses this small equivalent.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace uvm {

// What kind of failure an Error is, for callers that decide on it (retry, tolerate, drop a handle). Callers
// branch on the code, never on the message text, which is for people.
enum class ErrorCode : uint8_t {
  kInternal,      // a bug, or a library failing in a way we did not foresee
  kInvalidInput,  // malformed text, a value out of range, a hostile name, a value the kernel refuses (EINVAL)
  kNotFound,      // a file, cgroup, sandbox or endpoint that does not exist (ENOENT)
  kGone,          // existed and was removed while in use (a cgroup rmdir'ed under a kept fd: ENODEV)
  kPermission,    // EACCES, EPERM, gRPC PERMISSION_DENIED
  kUnavailable,   // a peer that is down or refuses (ECONNREFUSED, gRPC UNAVAILABLE)
  kDeadline,      // a call's deadline passed
  kResourceExhausted,  // ENOSPC, EMFILE, ENOMEM, a size bound
  kUnsupported,  // the kernel, runtime or file lacks the feature (EOPNOTSUPP, ENOSYS, gRPC UNIMPLEMENTED)
};

// An error a person can act on: the message names the source, the field and the value. `sys_errno` is the
// errno behind it, when a syscall failed (0 otherwise). `grpc_code` is the gRPC status code behind it
// (grpc/doc/statuscodes.md numbers), when a gRPC call failed (0 = OK otherwise): for reports that count
// failures by the runtime's own code, which ErrorCode folds together (UNKNOWN and INTERNAL, say).
struct Error {
  std::string message;
  ErrorCode code = ErrorCode::kInternal;
  int sys_errno = 0;
  int grpc_code = 0;
};

constexpr const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInternal:
      return "internal";
    case ErrorCode::kInvalidInput:
      return "invalid_input";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kGone:
      return "gone";
    case ErrorCode::kPermission:
      return "permission";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kDeadline:
      return "deadline";
    case ErrorCode::kResourceExhausted:
      return "resource_exhausted";
    case ErrorCode::kUnsupported:
      return "unsupported";
  }
  return "internal";
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

// Returns the error of a failed Result/Status from the enclosing function (which returns any Result or
// Status: an Error converts to each); a successful one is dropped. For results whose value is needed, write
// `auto x = f(); if (!x) return x.error();`.
#define UVM_TRY(expr)                                               \
  do {                                                              \
    if (auto uvm_try_ = (expr); !uvm_try_) return uvm_try_.error(); \
  } while (0)

}  // namespace uvm
