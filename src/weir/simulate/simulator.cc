// The scenario registry; see simulator.h.
#include "weir/simulate/simulator.h"

#include "weir/simulate/campaigns_scenario.h"
#include "weir/simulate/ecommerce_scenario.h"
#include "weir/simulate/orders_scenario.h"

namespace weir::simulate {
namespace {

// In name order. A new scenario adds one line here.
const ScenarioInfo kScenarios[] = {
    {CampaignsScenario::kName,
     "ad-campaign analytics (seed 003): impression/click/conversion/view/engagement/completion/skip funnels",
     CampaignsScenario::kParams, &CampaignsScenario::Make},
    {EcommerceScenario::kName,
     "shop activity (seed 004): page_view, product_view, add_to_cart, purchase_completed, refund",
     EcommerceScenario::kParams, &EcommerceScenario::Make},
    {OrdersScenario::kName,
     "shop database CDC (seed 002): Debezium change events of orders and order_items (inserts, status updates, "
     "deletes)",
     OrdersScenario::kParams, &OrdersScenario::Make, /*changes=*/true},
};

}  // namespace

std::span<const ScenarioInfo> Scenarios() { return kScenarios; }

std::vector<std::string> ScenarioNames() {
  std::vector<std::string> names;
  for (const ScenarioInfo& s : kScenarios) names.emplace_back(s.name);
  return names;
}

Result<std::unique_ptr<Scenario>> MakeScenario(std::string_view name, const Options& options) {
  for (const ScenarioInfo& s : kScenarios)
    if (s.name == name) return s.make(options);
  std::string known;
  for (const ScenarioInfo& s : kScenarios) {
    if (!known.empty()) known += ", ";
    known += s.name;
  }
  return Fail("unknown simulator scenario '{}'; known scenarios: {}", name, known);
}

}  // namespace weir::simulate
