import Synchronization

/// Who an HTTP request authenticated as, for the operator API's access log: the access-log
/// middleware binds a fresh one for each request (``current``, a task-local), and whatever
/// authenticates the request — ``Authenticator`` for a bearer token, the console's session
/// lookup for a cookie — records the user id in it when it succeeds.
///
/// Why a task-local and not a second look at the `Authorization` header: the middleware then
/// never touches a credential (nothing that could put a token in a log), it costs nothing
/// (no second verification or cache lookup), and it names exactly the user the route acted
/// for, however the route authenticated (token, cookie, or not at all). A route's work runs in
/// the request's task (awaits into actors stay in it), so the value set there is seen by the
/// middleware once the route returns.
public final class RequestIdentity: Sendable {
    @TaskLocal public static var current: RequestIdentity?

    private let user = Mutex<String?>(nil)

    public init() {}

    /// The authenticated user's id; nil when the request did not authenticate.
    public var userID: String? { self.user.withLock { $0 } }

    /// Records `userID` as the current request's user (nothing outside a request).
    public static func record(userID: String) {
        self.current?.user.withLock { $0 = userID }
    }
}
