package import AuditLog
import Synchronization

/// A bound on work that may never end on its own: a connection attempt to a server that accepts
/// and never answers, a statement on a cut connection.
package enum PostgresDeadline {
    /// Runs `body`, failing with `.databaseUnavailable` if it has not finished within `timeout`.
    /// The body is not waited for past that; a value it returns too late goes to `late` (a
    /// connection opened after the caller gave up is closed there). Both the body and its timer
    /// run on `executor` when one is given (unstructured tasks do not inherit the caller's).
    package static func run<T: Sendable>(
        timeout: Duration,
        failure: String,
        executor: (any TaskExecutor)? = nil,
        late: @escaping @Sendable (T) async -> Void = { _ in },
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let once = Once()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let work = Task(executorPreference: executor) {
                let result: Result<T, any Error>
                do {
                    result = .success(try await body())
                } catch {
                    result = .failure(error)
                }
                if once.claim() {
                    continuation.resume(with: result)
                } else if case .success(let value) = result {
                    await late(value)
                }
            }
            Task(executorPreference: executor) {
                try? await Task.sleep(for: timeout)
                if once.claim() {
                    work.cancel()
                    continuation.resume(
                        throwing: AuditLogError(.databaseUnavailable, "\(failure): no answer within \(timeout)")
                    )
                }
            }
        }
    }
}

/// The first caller of `claim()` gets true, every later one false.
private final class Once: Sendable {
    private let claimed = Atomic<Bool>(false)
    func claim() -> Bool {
        self.claimed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }
}
