// Reading scenario params from their text form with bounds, and rejecting unknown names.
//
//   ParamReader r("ecommerce", options.params, kEcommerceParams);
//   WEIR_ASSIGN_OR_RETURN(uint64_t users, r.Count("users", 100000, 1, 10'000'000));
//   WEIR_ASSIGN_OR_RETURN(double skew, r.Number("user_skew", 0.8, 0, 3));
//   WEIR_RETURN_IF_ERROR(r.CheckAllKnown());
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "weir/base/result.h"
#include "weir/simulate/simulator.h"

namespace weir::simulate {

/// Typed, bounded access to a scenario's params; the messages name the scenario and param.
class ParamReader {
 public:
  /// `known` lists the scenario's params, for the unknown-param message.
  ParamReader(std::string_view scenario, const ParamMap& params, std::span<const ParamInfo> known)
      : scenario_(scenario), params_(params), known_(known) {}

  /// An integer in [min, max]; `def` when absent.
  Result<uint64_t> Count(std::string_view name, uint64_t def, uint64_t min, uint64_t max) const;
  /// A finite number in [min, max]; `def` when absent.
  Result<double> Number(std::string_view name, double def, double min, double max) const;

  /// The index of the param's value in `choices`; `def` when absent.
  Result<size_t> Choice(std::string_view name, size_t def, std::span<const std::string_view> choices) const;

  /// Fails if a param is not one of `known`, listing the known ones.
  Status CheckAllKnown() const;

 private:
  std::string_view scenario_;
  const ParamMap& params_;
  std::span<const ParamInfo> known_;
};

/// Checks the options every scenario shares (rate, disorder).
Status ValidateCommonOptions(const Options& options);

}  // namespace weir::simulate
