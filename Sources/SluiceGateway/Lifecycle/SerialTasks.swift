import NIOConcurrencyHelpers

/// Runs async jobs one after another, in the order they were submitted (an actor would let them interleave at
/// every `await`). Reloads and DNS refreshes go through one, so two compiles never race.
final class SerialTasks: Sendable {
    private let last = NIOLockedValueBox<Task<Void, Never>?>(nil)

    func run<T: Sendable>(_ job: @escaping @Sendable () async throws -> T) async throws -> T {
        let result = NIOLockedValueBox<Result<T, any Error>?>(nil)
        let task = last.withLockedValue { last -> Task<Void, Never> in
            let previous = last
            let task = Task {
                await previous?.value
                do {
                    let value = try await job()
                    result.withLockedValue { $0 = .success(value) }
                } catch {
                    result.withLockedValue { $0 = .failure(error) }
                }
            }
            last = task
            return task
        }
        await task.value
        return try result.withLockedValue { $0 }!.get()
    }
}
