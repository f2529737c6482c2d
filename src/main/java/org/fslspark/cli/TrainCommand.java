package org.fslspark.cli;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.fslspark.config.Experiment;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.model.Lora;
import org.fslspark.runtime.FederatedTraining;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train an experiment on prepared partitions (run `fsl prepare` first) and write per-round results.")
final class TrainCommand implements Callable<Integer> {
    @Mixin
    ExperimentOptions experiment = new ExperimentOptions();

    @Option(names = "--out", paramLabel = "DIR", description = "Output location (any Hadoop URI); overrides the key `output`.")
    String out;

    @Option(names = "--master", paramLabel = "URL", description = "Spark master; overrides the key `spark.master`.")
    String master;

    @Option(names = "--overwrite", description = "Replace an existing output location.")
    boolean overwrite;

    @Option(names = "--resume", description = "Continue the run in the output location from its newest complete round "
            + "checkpoint (<out>/state); the config may differ only in train.rounds, stop.*, spark.* and checkpoint.*.")
    boolean resume;

    @Override
    public Integer call() {
        List<String> extra = new ArrayList<>();
        if (out != null) {
            extra.add("output=\"" + out + "\"");
        }
        if (master != null) {
            extra.add("spark.master=\"" + master + "\"");
        }
        if (resume && overwrite) {
            throw new IllegalArgumentException("--resume continues the results in the output location; --overwrite would delete them");
        }
        Experiment e = experiment.load(extra);
        System.out.printf("%s: %s on %s, %d institutes %s, server at %s, %d rounds%n", e.name(), e.algorithm(),
                e.model(), e.institutes().size(), e.institutes(), e.serverSite(), e.train().rounds());
        if (e.init().fromCheckpoint()) {
            Lora lora = e.init().lora();
            System.out.printf("starting from %s%s%n", e.init().checkpoint(), lora.enabled() ? String.format(
                    " with LoRA rank %d, alpha %s on %s (the checkpoint's weights frozen)", lora.rank(), lora.alpha(),
                    lora.projections()) : " (every parameter trains)");
        }
        try (CommandSession session = new CommandSession(e)) {
            FederatedTraining.Summary s;
            try (ProgressBar bar = progressBar(e)) {
                FederatedTraining.Start start = resume ? FederatedTraining.Start.RESUME
                        : overwrite ? FederatedTraining.Start.OVERWRITE : FederatedTraining.Start.NEW;
                s = FederatedTraining.run(e, session.spark, start, row -> {
                    bar.step();
                    bar.setExtraMessage(String.format(" acc %.4f", row.testAccuracy()));
                    System.out.println(line(row));
                });
            }
            RoundRecord last = s.last();
            double best = s.rounds().stream().mapToDouble(RoundRecord::testAccuracy).max().orElse(0);
            System.out.printf("%nDone: %s.%nFinal test accuracy %.4f (best %.4f), test loss %.4f; payload traffic %.1f MB, "
                            + "wire traffic %.1f MB; %.1f s of training, %.1f s modelled on %s.%nResults: %s (rounds.csv/.parquet, "
                            + "traffic.csv/.parquet, config, model, accuracy_vs_traffic.png, accuracy_vs_time.png)%n",
                    s.stopReason(), last.testAccuracy(), best, last.testLoss(), last.cumulativePayloadBytes() / 1e6,
                    last.cumulativeWireBytes() / 1e6, last.cumulativeSeconds(), last.cumulativeModelledSeconds(),
                    e.testbed().enabled() ? "the test-bed " + e.testbed().topology().name() + "'s links and compute"
                            : "ideal links", s.output());
            if (e.stop().targetAccuracy() > 0) {
                System.out.printf("Target accuracy %s first reached: %s.%n", e.stop().targetAccuracy(),
                        RoundRecord.timeToTarget(s.rounds(), e.stop().targetAccuracy()));
            }
        }
        return 0;
    }

    static String line(RoundRecord r) {
        return String.format("round %3d  test acc %.4f  loss %.4f  up %8.2f MB  down %8.2f MB  total %9.2f MB  %6.1f s"
                        + "  (modelled %6.1f s)", r.round(), r.testAccuracy(), r.testLoss(), r.payloadBytesUp() / 1e6,
                r.payloadBytesDown() / 1e6, r.cumulativePayloadBytes() / 1e6, r.roundSeconds(), r.modelledSeconds());
    }

    /** Redraws in place on a console; without one (CI, logs) prints a plain line per update. */
    private static ProgressBar progressBar(Experiment e) {
        ProgressBarBuilder b = new ProgressBarBuilder().setTaskName("rounds").setInitialMax(e.train().rounds())
                .showSpeed();
        if (System.console() == null) {
            b.setStyle(ProgressBarStyle.ASCII).setConsumer(new ConsoleProgressBarConsumer(System.out) {
                @Override
                public void accept(String rendered) {
                    System.out.println(rendered.trim());
                }
            }).setUpdateIntervalMillis(Integer.MAX_VALUE);
        }
        return b.build();
    }
}
