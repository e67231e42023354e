import SluiceAuth
public import SluiceConfig

/// The files the routes' `auth` reads, loaded and checked: JWT key sets, API key files, htpasswd files. Loaded
/// before a configuration is compiled (at start and on every reload, so SIGHUP picks up rotated keys); a file that
/// cannot be read or parsed fails the load with an error naming the route, the key and the file's line.
public struct AuthMaterials: Sendable {
    var jwt: [JWTKey: JWTVerifier] = [:]
    var apiKeys: [String: APIKeyStore] = [:]
    var htpasswd: [String: Htpasswd] = [:]

    /// A key set with the settings it verifies under.
    struct JWTKey: Hashable {
        let file: String
        let settings: JWTSettings
    }

    public init() {}

    /// Loads what `config`'s routes need; throws `ConfigErrors` for every file that is wrong.
    public static func load(_ config: GatewayConfig) async throws -> AuthMaterials {
        var materials = AuthMaterials()
        var errors: [ConfigError] = []
        for route in config.routes {
            guard let auth = route.filters.auth else { continue }
            func fail(_ key: String, _ file: String, _ problem: String) {
                errors.append(
                    ConfigError(
                        location: auth.location, section: "[route \(route.name)]", key: key,
                        message: "\(file): \(problem)"))
            }
            switch auth.kind {
            case .jwt(let jwt):
                let key = JWTKey(file: jwt.keysFile, settings: Self.settings(jwt))
                guard materials.jwt[key] == nil else { continue }
                do {
                    let text = try FileSystem.readText(jwt.keysFile)
                    materials.jwt[key] = try await JWTVerifier.load(keys: text, settings: key.settings)
                } catch let error as AuthFileError {
                    fail("jwt_keys", jwt.keysFile, error.description)
                } catch {
                    fail("jwt_keys", jwt.keysFile, "\(error)")
                }
            case .apiKey(let file, _):
                guard materials.apiKeys[file] == nil else { continue }
                do {
                    materials.apiKeys[file] = try APIKeyStore(contents: try FileSystem.readText(file))
                } catch let error as AuthFileError {
                    fail("api_keys", file, error.description)
                } catch {
                    fail("api_keys", file, "\(error)")
                }
            case .basic(let file, _):
                guard materials.htpasswd[file] == nil else { continue }
                do {
                    materials.htpasswd[file] = try Htpasswd(contents: try FileSystem.readText(file))
                } catch let error as AuthFileError {
                    fail("htpasswd", file, error.description)
                } catch {
                    fail("htpasswd", file, "\(error)")
                }
            case .forward:
                break
            }
        }
        if !errors.isEmpty { throw ConfigErrors(errors) }
        return materials
    }

    static func settings(_ jwt: JWTAuthConfig) -> JWTSettings {
        var settings = JWTSettings()
        settings.issuer = jwt.issuer
        settings.audiences = jwt.audiences
        settings.leewaySeconds = Int(jwt.leeway.components.seconds)
        settings.requiredClaims = jwt.requiredClaims
        settings.identityClaim = jwt.identityClaim
        return settings
    }

    func verifier(_ jwt: JWTAuthConfig) -> JWTVerifier? { self.jwt[JWTKey(file: jwt.keysFile, settings: Self.settings(jwt))] }
}
