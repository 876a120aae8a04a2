// The `campaigns` scenario; see campaigns_scenario.h and README.md.
#include "weir/simulate/campaigns_scenario.h"

#include <algorithm>
#include <cmath>
#include <span>
#include <string_view>

#include "weir/simulate/params.h"

namespace weir::simulate {
namespace {

using namespace std::string_view_literals;

enum Step : uint8_t { kImpression, kClick, kConversion, kView, kEngagement, kCompletion, kSkip };
constexpr std::array kStepNames = {"impression"sv, "click"sv,      "conversion"sv, "view"sv,
                                   "engagement"sv, "completion"sv, "skip"sv};

enum Device : uint8_t { kMobile, kDesktop, kTablet };
constexpr std::array kDevices = {"mobile"sv, "desktop"sv, "tablet"sv};
constexpr std::array kDeviceWeights = {55.0, 35.0, 10.0};

constexpr std::array kMobileAgents = {
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Mobile/15E148 Safari/604.1"sv,
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.6167.101 Mobile Safari/537.36"sv,
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.6167.101 Mobile Safari/537.36"sv,
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 Instagram 312.0.0.22.114"sv,
};
constexpr std::array kDesktopAgents = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.0.0 Safari/537.36"sv,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15"sv,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:122.0) Gecko/20100101 Firefox/122.0"sv,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.0.0 Safari/537.36 Edg/121.0.0.0"sv,
};
constexpr std::array kTabletAgents = {
    "Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Mobile/15E148 Safari/604.1"sv,
    "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.6167.101 Safari/537.36"sv,
};

constexpr std::array kLocations = {
    "New York, NY"sv,     "Los Angeles, CA"sv,  "Chicago, IL"sv,   "Houston, TX"sv,     "Phoenix, AZ"sv,
    "Philadelphia, PA"sv, "San Antonio, TX"sv,  "San Diego, CA"sv, "Dallas, TX"sv,      "Austin, TX"sv,
    "San Jose, CA"sv,     "Jacksonville, FL"sv, "Columbus, OH"sv,  "Charlotte, NC"sv,   "San Francisco, CA"sv,
    "Seattle, WA"sv,      "Denver, CO"sv,       "Boston, MA"sv,    "Miami, FL"sv,       "Atlanta, GA"sv,
    "Washington, DC"sv,   "Portland, OR"sv,     "Nashville, TN"sv, "Minneapolis, MN"sv,
};
constexpr std::array kLocationWeights = {20.0, 10.0, 7.0, 6.0, 4.0, 4.0, 3.0, 3.0, 4.0, 3.0, 2.5, 2.0,
                                         2.0,  2.0,  4.0, 4.0, 3.0, 4.0, 4.0, 4.0, 3.0, 2.0, 2.0, 2.0};
static_assert(kLocations.size() == kLocationWeights.size() && kLocations.size() < 256);

// Journey probabilities that are not params: typical video and rich-media ad behaviour.
constexpr double kVideoShare = 0.4;          // campaigns whose creative is a video
constexpr double kViewRate = 0.7;            // video impressions whose playback starts
constexpr double kCompletionRate = 0.45;     // views watched to the end
constexpr double kSkipRate = 0.40;           // views skipped (the rest are abandoned silently)
constexpr double kEngagementRate = 0.03;     // impressions with an interaction (expand, share)
constexpr double kMoreImpressions = 0.45;    // chance a session sees one more impression
constexpr size_t kConcurrentSessions = 512;  // sessions whose events interleave

template <size_t N>
AliasTable Table(const std::array<double, N>& w) {
  return AliasTable(std::span<const double>(w.data(), N));
}

// Log-uniform integer in [lo, hi]: ad prices spread over orders of magnitude.
uint32_t LogUniform(Rng& rng, double lo, double hi) {
  const double log_lo = std::log(lo), log_hi = std::log(hi);
  return static_cast<uint32_t>(std::llround(std::exp(log_lo + rng.Uniform() * (log_hi - log_lo))));
}

constexpr size_t LongestAgent() {
  size_t m = 0;
  for (auto s : kMobileAgents) m = std::max(m, s.size());
  for (auto s : kDesktopAgents) m = std::max(m, s.size());
  for (auto s : kTabletAgents) m = std::max(m, s.size());
  return m;
}
static_assert(LongestAgent() + 500 < CampaignsScenario::kMaxEventBytes);

}  // namespace

const ParamInfo CampaignsScenario::kParams[4] = {
    {"campaigns", "50", "number of campaigns (1..100000)"},
    {"organizations", "10", "number of organizations owning the campaigns (1..campaigns)"},
    {"ctr", "0.03", "average click-through rate: clicks per impression (0..1)"},
    {"cvr", "0.08", "average conversion rate: conversions per click (0..1)"},
};

Result<std::unique_ptr<Scenario>> CampaignsScenario::Make(const Options& options) {
  WEIR_RETURN_IF_ERROR(ValidateCommonOptions(options));
  ParamReader r(kName, options.params, kParams);
  WEIR_RETURN_IF_ERROR(r.CheckAllKnown());
  WEIR_ASSIGN_OR_RETURN(uint64_t campaigns, r.Count("campaigns", 50, 1, 100000));
  WEIR_ASSIGN_OR_RETURN(uint64_t organizations, r.Count("organizations", std::min<uint64_t>(10, campaigns), 1, 100000));
  if (organizations > campaigns)
    return Fail(
        "scenario 'campaigns': organizations ({}) must not exceed campaigns ({}); every organization "
        "owns at least one campaign",
        organizations, campaigns);
  WEIR_ASSIGN_OR_RETURN(double ctr, r.Number("ctr", 0.03, 0, 1));
  WEIR_ASSIGN_OR_RETURN(double cvr, r.Number("cvr", 0.08, 0, 1));
  return std::unique_ptr<Scenario>(new CampaignsScenario(options, campaigns, organizations, ctr, cvr));
}

CampaignsScenario::CampaignsScenario(const Options& o, uint64_t campaigns, uint64_t organizations, double ctr,
                                     double cvr)
    : ClockedScenario(o),
      rng_(o.seed),
      device_(Table(kDeviceWeights)),
      location_(Table(kLocationWeights)),
      sessions_(kConcurrentSessions) {
  // Popularity: a few campaigns carry most of the traffic.
  const std::vector<double> popularity = ZipfWeights(campaigns, 0.8);
  campaign_pick_ = AliasTable(popularity);
  double popularity_total = 0;
  for (double w : popularity) popularity_total += w;

  uint64_t sm = o.seed ^ 0x63616d7061696e73ULL;  // "campains"
  session_key_ = SplitMix64(sm);
  Rng setup(SplitMix64(sm));

  // Campaign economics. Per-campaign rates vary around the requested averages (some creatives
  // do better than others); the spread is normalised so the traffic-weighted averages are
  // exactly `ctr` and `cvr` (up to clamping at 1).
  campaigns_.resize(campaigns);
  std::vector<double> ctr_factor(campaigns), cvr_factor(campaigns);
  double ctr_mean = 0, cvr_mean = 0;
  for (size_t i = 0; i < campaigns; ++i) {
    Campaign& c = campaigns_[i];
    // The first `organizations` campaigns give every organization at least one campaign.
    c.org = static_cast<uint32_t>(i < organizations ? i : setup.Below(organizations));
    c.cpm_units = LogUniform(setup, 15, 120);        // CPM $1.50 .. $12.00
    c.cpc_cents = LogUniform(setup, 60, 250);        // $0.60 .. $2.50 typical CPC
    c.cpv_cents = LogUniform(setup, 1, 8);           // $0.01 .. $0.08 per view
    c.order_cents = LogUniform(setup, 2000, 25000);  // $20 .. $250 order value
    static constexpr uint32_t kLengths[] = {6, 15, 15, 30, 30, 60};
    c.video_seconds = setup.Chance(kVideoShare) ? kLengths[setup.Below(std::size(kLengths))] : 0;
    ctr_factor[i] = std::exp(0.4 * setup.Normal());
    cvr_factor[i] = std::exp(0.4 * setup.Normal());
    double share = popularity[i] / popularity_total;
    ctr_mean += share * ctr_factor[i];
    cvr_mean += share * cvr_factor[i];
  }
  for (size_t i = 0; i < campaigns; ++i) {
    campaigns_[i].ctr = std::min(1.0, ctr * ctr_factor[i] / ctr_mean);
    campaigns_[i].cvr = std::min(1.0, cvr * cvr_factor[i] / cvr_mean);
  }
  for (Session& s : sessions_) StartSession(s);
}

void CampaignsScenario::StartSession(Session& s) {
  s.id = Mix64(session_key_ + ++session_counter_);
  s.campaign = static_cast<uint32_t>(campaign_pick_.Sample(rng_));
  s.device = static_cast<uint8_t>(device_.Sample(rng_));
  s.location = static_cast<uint8_t>(location_.Sample(rng_));
  s.agent = static_cast<uint8_t>(rng_.Below(4));
  s.size = 0;
  s.next = 0;
  const Campaign& c = campaigns_[s.campaign];
  int impressions = 1;
  while (impressions < kMaxImpressions && rng_.Chance(kMoreImpressions)) ++impressions;
  for (int i = 0; i < impressions; ++i) {
    s.steps[s.size++] = kImpression;
    if (c.video_seconds > 0 && rng_.Chance(kViewRate)) {
      s.steps[s.size++] = kView;
      double r = rng_.Uniform();
      if (r < kCompletionRate) {
        s.steps[s.size++] = kCompletion;
      } else if (r < kCompletionRate + kSkipRate && c.video_seconds > 6) {  // bumpers cannot be skipped
        s.steps[s.size++] = kSkip;
      }
    }
    if (rng_.Chance(kEngagementRate)) s.steps[s.size++] = kEngagement;
    if (rng_.Chance(c.ctr)) {
      s.steps[s.size++] = kClick;
      if (rng_.Chance(c.cvr)) s.steps[s.size++] = kConversion;
    }
  }
}

void CampaignsScenario::Next(std::string& out) {
  AppendBounded(out, kMaxEventBytes, [this](char* p) { return Write(p); });
}

char* CampaignsScenario::Write(char* p) {
  const Timestamp ts = clock_.Next(rng_);
  Session& s = sessions_[rng_.Below(sessions_.size())];
  if (s.next == s.size) StartSession(s);
  const Step step = static_cast<Step>(s.steps[s.next++]);
  const Campaign& c = campaigns_[s.campaign];

  JsonWriter w(p);
  w.Raw("{\"eventType\":");
  w.Str(kStepNames[step]);
  w.Raw(",\"campaignId\":\"camp_");
  w.Uint(s.campaign + 1);
  w.Raw("\",\"organizationId\":\"org_");
  w.Uint(c.org + 1);
  w.Raw("\",\"timestamp\":\"");
  w.MoveTo(iso_.Write(ts, w.pos()));
  w.Char('"');
  switch (step) {
    case kImpression:  // auction prices vary ±30% around the campaign's CPM
      w.Raw(",\"value\":");
      w.Fixed(std::max<uint64_t>(1, c.cpm_units * (70 + rng_.Below(61)) / 100), 4);
      break;
    case kClick:  // ±20% around the campaign's CPC, within $0.50 .. $3.00
      w.Raw(",\"value\":");
      w.Fixed(std::clamp<uint64_t>(c.cpc_cents * (80 + rng_.Below(41)) / 100, 50, 300), 2);
      break;
    case kConversion:  // order value: half to twice the campaign's typical order
      w.Raw(",\"value\":");
      w.Fixed(c.order_cents * (50 + rng_.Below(151)) / 100, 2);
      break;
    case kView:
      w.Raw(",\"value\":");
      w.Fixed(c.cpv_cents, 2);
      break;
    default:
      break;
  }
  w.Raw(",\"metadata\":{\"sessionId\":\"session_");
  w.Base36(s.id, 12);
  w.Raw("\",\"deviceType\":");
  w.Str(kDevices[s.device]);
  w.Raw(",\"location\":");
  w.Str(kLocations[s.location]);
  w.Raw(",\"userAgent\":");
  switch (s.device) {
    case kMobile:
      w.Str(kMobileAgents[s.agent % kMobileAgents.size()]);
      break;
    case kDesktop:
      w.Str(kDesktopAgents[s.agent % kDesktopAgents.size()]);
      break;
    default:
      w.Str(kTabletAgents[s.agent % kTabletAgents.size()]);
      break;
  }
  // Seconds of playback: watched so far for a view, the full creative for a completion, at
  // least the 5 s before the skip button for a skip.
  const int64_t len = c.video_seconds;
  switch (step) {
    case kView:
      w.Raw(",\"duration\":");
      w.Uint(static_cast<uint64_t>(rng_.Between(1, len)));
      break;
    case kCompletion:
      w.Raw(",\"duration\":");
      w.Uint(static_cast<uint64_t>(len));
      break;
    case kSkip:
      w.Raw(",\"duration\":");
      w.Uint(static_cast<uint64_t>(rng_.Between(5, len - 1)));
      break;
    default:
      break;
  }
  w.Raw("}}");
  return w.pos();
}

}  // namespace weir::simulate
