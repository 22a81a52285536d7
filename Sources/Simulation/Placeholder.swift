public enum SimulationModule {}
