// The `campaigns` scenario: ad-campaign analytics events in the shape of seed 003
// (impression, click, conversion, view, engagement, completion, skip), generated as user
// sessions that walk a funnel, so clicks follow impressions and conversions follow clicks
// within one sessionId.
//
//   auto s = CampaignsScenario::Make(options);   // or MakeScenario("campaigns", options)
//   std::string line;
//   (*s)->Next(line);
//   // {"eventType":"impression","campaignId":"camp_3","organizationId":"org_2",
//   //  "timestamp":"2026-02-16T10:30:00.000Z","value":0.0042,"metadata":{…}}
//
// Fields and distributions are documented in src/weir/simulate/README.md.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weir/base/result.h"
#include "weir/simulate/event_clock.h"
#include "weir/simulate/json_writer.h"
#include "weir/simulate/random.h"
#include "weir/simulate/simulator.h"

namespace weir::simulate {

/// Generates campaign analytics events (seed 003 schema); see the README for the funnel.
class CampaignsScenario final : public ClockedScenario {
 public:
  static constexpr std::string_view kName = "campaigns";
  static const ParamInfo kParams[4];

  static Result<std::unique_ptr<Scenario>> Make(const Options& options);

  std::string_view name() const override { return kName; }
  void Next(std::string& out) override;

  /// Upper bound on one event's size, guaranteed by the fixed string tables.
  static constexpr size_t kMaxEventBytes = 1024;

 private:
  struct Campaign {
    uint32_t org;            // index into organizations
    uint32_t cpm_units;      // per-impression cost in 1/10000 USD (CPM / 10)
    uint32_t cpc_cents;      // typical cost per click
    uint32_t cpv_cents;      // cost per video view
    uint32_t order_cents;    // typical conversion value
    uint32_t video_seconds;  // creative length; 0 for display (non-video) campaigns
    double ctr;              // click probability per impression
    double cvr;              // conversion probability per click
  };

  // Upper bounds on one session's journey: impressions, and events per impression
  // (impression, view, completion|skip, engagement, click, conversion).
  static constexpr int kMaxImpressions = 8;
  static constexpr int kMaxStepsPerImpression = 6;

  /// One user's session on one campaign: the queued funnel steps still to emit.
  struct Session {
    uint64_t id = 0;
    uint32_t campaign = 0;
    uint8_t device = 0;
    uint8_t location = 0;
    uint8_t agent = 0;
    uint8_t size = 0;  // steps queued
    uint8_t next = 0;  // next step to emit
    std::array<uint8_t, kMaxImpressions * kMaxStepsPerImpression> steps{};
  };

  CampaignsScenario(const Options& options, uint64_t campaigns, uint64_t organizations, double ctr, double cvr);

  void StartSession(Session& s);
  char* Write(char* p);

  Rng rng_;
  IsoTimeFormatter iso_;
  uint64_t session_counter_ = 0;
  uint64_t session_key_;

  std::vector<Campaign> campaigns_;
  AliasTable campaign_pick_;
  AliasTable device_;
  AliasTable location_;
  std::vector<Session> sessions_;  // concurrently active sessions; events interleave
};

}  // namespace weir::simulate
