/* Names of the record types (log_record.h), as `keel log show` prints them. */
#include "svc/log/log_record.h"

const char *log_record_type_name(uint16_t type)
{
	switch (type) {
	case LOG_REC_CONSOLE_INPUT: return "console";
	case LOG_REC_NET_FRAME: return "net";
	case LOG_REC_ENTROPY: return "entropy";
	case LOG_REC_RTC_EPOCH: return "rtc-epoch";
	case LOG_REC_TIME_ADJUST: return "time-adjust";
	case LOG_REC_IDLE_SKIP: return "idle-skip";
	case LOG_REC_API: return "api";
	case LOG_REC_DIGEST: return "digest";
	case LOG_REC_SNAPSHOT: return "snapshot";
	case LOG_REC_SESSION_START: return "session-start";
	case LOG_REC_SESSION_END: return "session-end";
	default: return "unknown";
	}
}
