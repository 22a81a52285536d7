public enum MVCCModule {}
