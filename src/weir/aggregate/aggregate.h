// Aggregate functions: fixed-size states updated a batch at a time, mergeable, serializable,
// and (most of them) able to take retractions.
//
// A metric lays out the states of all its aggregate calls side by side in one "state row" per
// (window pane, group). For a batch, the caller resolves each record's state row once and then
// every aggregate runs one tight loop over the batch:
//
//   auto f = MakeAggregate("sum", /*args=*/1, {});        // Result<unique_ptr<AggregateFunction>>
//   f->Init(row + offset);
//   f->Update({rows, args, weights, times, n}, offset);
//   Value v = f->Finalize(row + offset, arena);
//
// Retraction: a record with weight -1 undoes an earlier +1 of the same values. Functions that
// cannot undo (first, last) say so through retractable(); the planner rejects them for inputs
// that may retract.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "weir/base/arena.h"
#include "weir/base/result.h"
#include "weir/model/value.h"

namespace weir::aggregate {

/// One batch of input for Update: record i updates the state at rows[i] + offset
/// (rows[i] == nullptr: record i is skipped).
struct UpdateInput {
  char* const* rows;
  const Value* const* args;  ///< args[k][i]: argument k of record i
  const int8_t* weights;     ///< +1 insert, -1 retraction
  const Timestamp* times;    ///< event time of record i
  size_t n;
};

/// Options that change a function's state layout.
struct AggregateOptions {
  /// True when no input can retract: min/max then keep only the current extreme.
  bool insert_only = false;
  /// Constant arguments, such as q in percentile(x, q) or k in top_k(x, k).
  std::vector<Value> constants;
};

/// An aggregate function bound to its arguments. Thread-safe: holds no mutable state.
class AggregateFunction {
 public:
  virtual ~AggregateFunction() = default;
  virtual std::string_view name() const = 0;
  /// Bytes of state, a multiple of 8.
  virtual uint32_t state_size() const = 0;
  /// Constructs an empty state in uninitialised memory.
  virtual void Init(char* state) const = 0;
  /// Releases what the state owns; the memory itself belongs to the caller.
  virtual void Destroy(char* state) const {}
  virtual void Update(const UpdateInput& in, uint32_t offset) const = 0;
  /// dst += src (both initialised).
  virtual void Merge(char* dst, const char* src) const = 0;
  /// The result; strings go into `arena`.
  virtual Value Finalize(const char* state, Arena& arena) const = 0;
  /// Appends a portable encoding of the state.
  virtual void Serialize(const char* state, std::string& out) const = 0;
  /// Reads what Serialize wrote into an initialised state, advancing `in`.
  virtual Status Deserialize(char* state, std::string_view& in) const = 0;
  /// True if Update accepts weight -1.
  virtual bool retractable() const { return true; }
  /// True if the state owns memory (Destroy must be called).
  virtual bool has_destructor() const { return false; }
};

using AggregatePtr = std::unique_ptr<const AggregateFunction>;

/// a + b for record counts, wrapping around instead of overflowing: a damaged stored state may
/// hold any count, and merging it must not be undefined behaviour.
inline int64_t AddCount(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

/// What the planner needs to know about an aggregate before binding it.
struct AggregateInfo {
  std::string_view name;
  int min_args, max_args;
  /// Indexes of arguments that must be constants (percentile's q, top_k's k).
  std::vector<int> constant_args;
  std::string_view description;
};

/// nullptr if `name` is not an aggregate function.
const AggregateInfo* FindAggregate(std::string_view name);
/// All aggregate functions, for help texts and suggestions.
const std::vector<AggregateInfo>& AllAggregates();

/// Binds an aggregate to `args` arguments with `options`. Errors are user-facing.
Result<AggregatePtr> MakeAggregate(std::string_view name, int args, const AggregateOptions& options);

}  // namespace weir::aggregate
