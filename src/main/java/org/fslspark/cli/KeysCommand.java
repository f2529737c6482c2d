package org.fslspark.cli;

import org.fslspark.config.ExperimentLoader;
import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

@Command(name = "keys", description = "List every config key with its default value (see src/main/resources/fsl-defaults.conf for their meaning).")
final class KeysCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        ExperimentLoader.describeKeys().forEach(System.out::println);
        return 0;
    }
}
