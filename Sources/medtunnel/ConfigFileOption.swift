import ArgumentParser

/// `--config FILE` of `gateway`, `relay` and `witness`. The file is read before the command line
/// is parsed (`MedTunnel.main`, MedTunnelConfig): its settings, and the environment's, become
/// arguments for the options the command line did not give. The option is declared here so that
/// the parser accepts it and `--help` lists it.
struct ConfigFileOption: ParsableArguments {
    @Option(
        name: .customLong("config"),
        help: ArgumentHelp(
            "A JSON file of this command's options (keys: the long options without --); command-line flags "
                + "override MEDTUNNEL_<COMMAND>_<OPTION> variables, which override the file (docs/configuration.md).",
            valueName: "file"
        )
    )
    var path: String?
}
