-- Emitted by the analytics client when a distinct id starts a new session.
return {
  name = "session_start",
  version = 1,
}
