import ChatCore
import FoundationEssentials

/// Which models parley offers and where they are: `MODELS_FILE` (several upstreams),
/// or `LLM_BASE_URL` + `LLM_MODEL` (+ `LLM_API_KEY`) for one, or the built-in mock.
struct ProviderConfiguration: Sendable {
    struct Upstream: Sendable, Equatable {
        var model: String
        var baseURL: String
        var apiKey: String?
    }

    var upstreams: [Upstream]
    /// What models cost, from `MODELS_FILE`, for the usage reports.
    var prices: [String: ModelPrice] = [:]
    var useMock: Bool
    var connectTimeout: Duration
    var firstTokenTimeout: Duration
    /// `LLM_MAX_ANSWER_SECONDS`: the longest a whole answer may take; nil (0): no ceiling.
    var maxAnswerDuration: Duration?
    var idleTimeout: Duration
    var maxRetries: Int
    var mockTokenDelay: Duration

    /// The shape of `MODELS_FILE`:
    /// `{"models": [{"id": "gpt-4o-mini", "base_url": "https://api.openai.com/v1", "api_key_env": "OPENAI_API_KEY",
    /// "input_price_per_million": 0.15, "output_price_per_million": 0.6}]}`.
    /// Keys are named by the variable that holds them, so the file itself holds no secret.
    /// Prices (US dollars per million tokens) are optional, both or neither.
    struct ModelsFile: Decodable {
        struct Entry: Decodable {
            let id: String
            let base_url: String
            let api_key_env: String?
            let input_price_per_million: Double?
            let output_price_per_million: Double?
        }
        let models: [Entry]
    }

    init(environment env: Environment, production: Bool) throws(ConfigurationError) {
        connectTimeout = try env.seconds("LLM_CONNECT_TIMEOUT_SECONDS", default: 10, range: 0.1...300)
        firstTokenTimeout = try env.seconds("LLM_FIRST_TOKEN_TIMEOUT_SECONDS", default: 60, range: 0.1...3600)
        idleTimeout = try env.seconds("LLM_IDLE_TIMEOUT_SECONDS", default: 30, range: 0.1...3600)
        let ceiling = try env.seconds("LLM_MAX_ANSWER_SECONDS", default: 600, range: 0...86_400)
        maxAnswerDuration = ceiling == .zero ? nil : ceiling
        maxRetries = try env.integer("LLM_MAX_RETRIES", default: 2, range: 0...10)
        mockTokenDelay = try env.seconds("MOCK_TOKEN_DELAY_SECONDS", default: 0.03, range: 0...10)
        let provider = try env.choice("LLM_PROVIDER", default: "auto", from: ["auto", "mock", "openai-compatible"])

        if let path = env["MODELS_FILE"] {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError(variable: "MODELS_FILE", message: "names a file that cannot be read: \(path)")
            }
            let file: ModelsFile
            do {
                file = try JSONDecoder().decode(ModelsFile.self, from: data)
            } catch {
                throw ConfigurationError(variable: "MODELS_FILE", message: "is not {\"models\":[{\"id\",\"base_url\",\"api_key_env\"?}]}: \(path)")
            }
            upstreams = []
            for entry in file.models {
                guard entry.base_url.hasPrefix("http://") || entry.base_url.hasPrefix("https://") else {
                    throw ConfigurationError(variable: "MODELS_FILE", message: "model \(entry.id) has a base_url that is not http(s)")
                }
                let key = entry.api_key_env.flatMap { env[$0] }
                if let name = entry.api_key_env, key == nil {
                    throw ConfigurationError(variable: name, message: "is unset, but MODELS_FILE names it as the key of model \(entry.id)")
                }
                upstreams.append(Upstream(model: entry.id, baseURL: entry.base_url, apiKey: key))
                switch (entry.input_price_per_million, entry.output_price_per_million) {
                case (nil, nil):
                    break
                case let (input?, output?) where input >= 0 && output >= 0 && input.isFinite && output.isFinite:
                    prices[entry.id] = ModelPrice(inputPerMillion: input, outputPerMillion: output)
                default:
                    throw ConfigurationError(variable: "MODELS_FILE", message: "model \(entry.id) needs both input_price_per_million and output_price_per_million, each a number of dollars from 0 up")
                }
            }
        } else if let base = env["LLM_BASE_URL"] {
            guard base.hasPrefix("http://") || base.hasPrefix("https://") else {
                throw ConfigurationError(variable: "LLM_BASE_URL", message: "must be an http(s) URL such as https://api.openai.com/v1")
            }
            guard let model = env["LLM_MODEL"] else {
                throw ConfigurationError(variable: "LLM_MODEL", message: "is required with LLM_BASE_URL (the upstream's model id)")
            }
            upstreams = [Upstream(model: model, baseURL: base, apiKey: env["LLM_API_KEY"])]
        } else {
            upstreams = []
        }
        useMock = provider == "mock" || upstreams.isEmpty
        if provider == "openai-compatible", upstreams.isEmpty {
            throw ConfigurationError(variable: "LLM_PROVIDER", message: "is openai-compatible but neither LLM_BASE_URL nor MODELS_FILE is set")
        }
        if production, upstreams.isEmpty, provider != "mock" {
            throw ConfigurationError(variable: "LLM_BASE_URL", message: "(or MODELS_FILE) is required when APP_ENV=production; set LLM_PROVIDER=mock to serve the mock on purpose")
        }
    }
}
