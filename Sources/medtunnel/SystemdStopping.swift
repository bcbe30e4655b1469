import ServiceLifecycle
import SystemdNotify

/// Tells systemd (`Type=notify`) that the gateway begins its graceful shutdown: STOPPING=1 as
/// soon as SIGTERM or SIGINT arrives, while the other services still close their sessions.
/// Placed last in the service group, it is the first to be shut down, so returning then is
/// expected.
struct SystemdStopping: Service {
    func run() async throws {
        try? await gracefulShutdown()
        SystemdNotify.send("STOPPING=1")
    }
}
