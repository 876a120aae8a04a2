// Logging through spdlog. Messages go to stderr; the level comes from WEIR_LOG or --log-level.
//
//   WEIR_LOG_INFO("source {} started", id);
#pragma once

#ifndef SPDLOG_ACTIVE_LEVEL
#define SPDLOG_ACTIVE_LEVEL SPDLOG_LEVEL_DEBUG
#endif
#include <spdlog/spdlog.h>

#define WEIR_LOG_TRACE(...) SPDLOG_TRACE(__VA_ARGS__)
#define WEIR_LOG_DEBUG(...) SPDLOG_DEBUG(__VA_ARGS__)
#define WEIR_LOG_INFO(...) SPDLOG_INFO(__VA_ARGS__)
#define WEIR_LOG_WARN(...) SPDLOG_WARN(__VA_ARGS__)
#define WEIR_LOG_ERROR(...) SPDLOG_ERROR(__VA_ARGS__)

namespace weir {
/// Sends logs to stderr at `level` ("trace", "debug", "info", "warn", "error", "off").
void InitLogging(std::string_view level);
}  // namespace weir
