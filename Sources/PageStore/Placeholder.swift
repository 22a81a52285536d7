public enum PageStoreModule {}
