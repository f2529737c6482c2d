package org.fslspark.cli;

import org.apache.hadoop.conf.Configuration;
import org.fslspark.model.Checkpoint;
import org.fslspark.model.Generator;
import org.nd4j.linalg.factory.Nd4j;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Sample text from a trained language model: a run's <output>/model directory (any Hadoop URI). "
                + "Prints the prompt followed by the continuation.")
final class GenerateCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL_DIR", description = "Checkpoint directory (model.json, params.f32).")
    String model;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "Text to continue; empty starts a new document "
            + "(byte tokenizer). Default: empty.")
    String prompt = "";

    @Option(names = "--tokens", paramLabel = "N", description = "Tokens to sample (fewer if the model ends the document). "
            + "Default: ${DEFAULT-VALUE}.")
    int tokens = 200;

    @Option(names = "--temperature", paramLabel = "T", description = "Softmax temperature; 0 = always the most likely "
            + "token. Default: ${DEFAULT-VALUE}.")
    double temperature = 0.8;

    @Option(names = "--top-k", paramLabel = "K", description = "Sample among the K most likely tokens; 0 = all. "
            + "Default: ${DEFAULT-VALUE}.")
    int topK = 40;

    @Option(names = "--seed", paramLabel = "S", description = "Seed of the sampling: the same seed, the same text. "
            + "Default: ${DEFAULT-VALUE}.")
    long seed = 1;

    @Override
    public Integer call() {
        if (tokens < 1 || !(temperature >= 0) || topK < 0) {
            throw new IllegalArgumentException("need --tokens >= 1, --temperature >= 0 and --top-k >= 0");
        }
        // One sequence at a time makes small ops, where libnd4j's thread fan-out only waits for the
        // partner thread: one thread ran a block 15x faster on this shared machine (docs/PERFORMANCE.md).
        // Restored afterwards: the command may run inside another program's JVM (tests, notebooks).
        var env = Nd4j.getEnvironment();
        int threads = env.maxThreads();
        int masterThreads = env.maxMasterThreads();
        env.setMaxThreads(1);
        env.setMaxMasterThreads(1);
        try {
            Generator g = new Generator(Checkpoint.read(model, new Configuration()));
            System.out.println(g.generate(prompt, tokens, temperature, topK, seed));
        } finally {
            env.setMaxThreads(threads);
            env.setMaxMasterThreads(masterThreads);
        }
        return 0;
    }
}
