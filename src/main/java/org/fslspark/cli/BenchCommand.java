package org.fslspark.cli;

import org.fslspark.bench.CodecBenchmark;
import org.fslspark.bench.Dl4jComparison;
import org.fslspark.bench.FaultsBenchmark;
import org.fslspark.bench.LmStepBenchmark;
import org.fslspark.bench.LmQuickstart;
import org.fslspark.bench.QuickstartMemory;
import org.fslspark.bench.Reproduction;
import org.fslspark.bench.SparkOverhead;
import org.fslspark.bench.StepBenchmark;
import org.fslspark.bench.TestbedTime;
import org.fslspark.bench.TlsOverhead;
import picocli.CommandLine;
import picocli.CommandLine.Command;

@Command(name = "bench", description = "Benchmarks that print figures (see docs/PERFORMANCE.md).",
        subcommands = {StepBenchmark.class, LmStepBenchmark.class, LmQuickstart.class, Reproduction.class, TestbedTime.class,
                QuickstartMemory.class, SparkOverhead.class, Dl4jComparison.class, TlsOverhead.class, CodecBenchmark.class, FaultsBenchmark.class,
                CommandLine.HelpCommand.class})
final class BenchCommand {
}
