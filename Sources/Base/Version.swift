/// The version Flotilla reports (`flotilla --version`, Maintenance.Status later).
public enum FlotillaVersion {
    public static let string = "0.1.0-dev"
}
