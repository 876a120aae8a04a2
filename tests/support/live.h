// Reading the live push in tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "weir/server/websocket_client.h"

namespace weir::testing {

/// The next WebSocket message that is not a heartbeat; "<closed>" or "<only heartbeats>" if none.
inline std::string ReadSkippingHeartbeats(server::WebSocketClient& ws) {
  for (int i = 0; i < 100; ++i) {
    auto m = ws.Read(std::chrono::seconds(10));
    EXPECT_TRUE(m) << m.error().message;
    if (!m || !m->has_value()) return "<closed>";
    if ((*m)->find(R"("type":"heartbeat")") == std::string::npos) return **m;
  }
  return "<only heartbeats>";
}

}  // namespace weir::testing
