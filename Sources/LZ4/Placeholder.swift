public enum LZ4Module {}
