public import GRDB

/// A todo as stored and as sent.
public struct Todo: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public var id: Int64?
    public var title: String
    public var done: Bool

    public static let databaseTableName = "todo"

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// The todos in one SQLite file, through GRDB. GRDB runs every access on its own queue, off the event loops; the
/// handlers `await` it.
public struct TodoStore: Sendable {
    let database: DatabaseQueue

    /// Opens (or creates) the database at `path` and brings its schema up to date.
    public init(path: String) throws {
        database = try DatabaseQueue(path: path)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "todo") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("title", .text).notNull()
                table.column("done", .boolean).notNull().defaults(to: false)
            }
        }
        try migrator.migrate(database)
    }

    public func all(limit: Int) async throws -> [Todo] {
        try await database.read { db in try Todo.order(Column("id")).limit(limit).fetchAll(db) }
    }

    public func find(_ id: Int64) async throws -> Todo? {
        try await database.read { db in try Todo.fetchOne(db, key: id) }
    }

    public func insert(title: String, done: Bool) async throws -> Todo {
        try await database.write { db in
            var todo = Todo(id: nil, title: title, done: done)
            try todo.insert(db)
            return todo
        }
    }

    /// Changes the fields given; nil when there is no such todo.
    public func update(_ id: Int64, title: String?, done: Bool?) async throws -> Todo? {
        try await database.write { db in
            guard var todo = try Todo.fetchOne(db, key: id) else { return nil }
            if let title { todo.title = title }
            if let done { todo.done = done }
            try todo.update(db)
            return todo
        }
    }

    /// Whether a todo was deleted.
    public func delete(_ id: Int64) async throws -> Bool {
        try await database.write { db in try Todo.deleteOne(db, key: id) }
    }

    /// Closes the file (for tests that reopen it).
    public func close() throws { try database.close() }
}
