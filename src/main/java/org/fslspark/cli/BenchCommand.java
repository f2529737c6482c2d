package org.fslspark.cli;

import org.fslspark.bench.QuickstartMemory;
import org.fslspark.bench.Reproduction;
import org.fslspark.bench.StepBenchmark;
import picocli.CommandLine;
import picocli.CommandLine.Command;

@Command(name = "bench", description = "Benchmarks that print figures (see docs/PERFORMANCE.md).",
        subcommands = {StepBenchmark.class, Reproduction.class, QuickstartMemory.class, CommandLine.HelpCommand.class})
final class BenchCommand {
}
