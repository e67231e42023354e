import SluiceTestSupport
import Testing

/// Every suite nests in this one, so that the whole target runs one test at a time: the limiter tests measure real
/// time, and several redis-servers and event loops at once on a small machine would skew them.
@Suite(.serialized) struct AllRedisTests {}
