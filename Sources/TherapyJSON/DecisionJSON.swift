/// The policy decision as the CLI and the API print it.
struct DecisionJSON: Encodable {
    struct Reason: Encodable {
        let code: String
        let message: String
    }

    let decision: String
    let reasons: [Reason]
}
