-- Emitted when a session ended (inactivity timeout); carries the final duration.
return {
  name = "session_end",
  version = 1,
}
