package org.fslspark.runtime;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.fslspark.config.ConfigException;
import org.fslspark.config.Experiment;
import org.fslspark.data.ImageShape;
import org.fslspark.data.Prepare;
import org.fslspark.data.PrepareSpec;
import org.fslspark.data.PreparedKeys;
import org.fslspark.data.TextPrepare;
import org.fslspark.data.TextSpec;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** The `prepare` step of an experiment: its dataset partitioned to each institute's own location. */
public final class PrepareJob {
    private PrepareJob() {
    }

    /** Runs prepare for the experiment: images ({@link Prepare}) or, for {@code data.format = text}, token sequences. */
    public static void run(Experiment e, boolean overwrite, PrintStream out) {
        if (e.data().isText()) {
            TextPrepare.run(new Configuration(), textSpec(e, overwrite), out);
        } else {
            Prepare.run(new Configuration(), spec(e, overwrite), out);
        }
    }

    /** The keys prepare applies, with the experiment's values, as a prepare of the experiment records them. */
    public static Map<String, String> preparedKeys(Experiment e) {
        return e.data().isText() ? PreparedKeys.of(textSpec(e, false)) : PreparedKeys.of(spec(e, false));
    }

    /**
     * Refuses the partition at {@code location} unless it was prepared with the experiment's values of the keys
     * prepare applies ({@link PreparedKeys}): train reads what prepare wrote, so another value would be silently
     * ignored. Partitions written before the keys were recorded are refused too: nothing says what they hold.
     *
     * <p>A share prepared by one of the experiment's institutes alone ({@code institutes = [itself]}), from its own
     * data, is accepted as it is: the federation's split, subset and sources do not describe it (README, Running on
     * a cluster: each institute may prepare its own data).
     */
    static void requireSameKeys(Configuration conf, String location, Experiment e) {
        Map<String, String> recorded = PreparedKeys.read(conf, new Path(location));
        Map<String, String> expected = preparedKeys(e);
        if (e.institutes().size() > 1 && e.institutes().stream()
                .anyMatch(i -> PreparedKeys.render(List.of(i)).equals(recorded.get(PrepareSpec.KEY_INSTITUTES)))) {
            return;
        }
        if (recorded.isEmpty()) {
            throw new ConfigException(location + " was prepared by an earlier version of fsl-spark, which did not record"
                    + " the keys prepare applies (" + String.join(", ", expected.keySet()) + "), so train cannot check"
                    + " that they are this experiment's; prepare again: bin/fsl prepare CONFIG [--set KEY=VALUE]... --overwrite");
        }
        List<PreparedKeys.Mismatch> diff = PreparedKeys.compare(expected, recorded);
        if (!diff.isEmpty()) {
            throw new ConfigException(location + " was prepared with other values of keys that prepare applies (train"
                    + " reads what prepare wrote): " + diff.stream().map(d -> d.key() + " = " + d.experiment()
                            + " in this experiment but " + d.prepared() + " when prepared").collect(Collectors.joining("; "))
                    + ". Prepare again with this experiment's values: bin/fsl prepare CONFIG " + sets(diff, true)
                    + " --overwrite (with this train's other --set options), or train with the prepared values ("
                    + sets(diff, false) + ")");
        }
    }

    private static String sets(List<PreparedKeys.Mismatch> diff, boolean experiment) {
        return diff.stream().map(d -> "--set '" + d.key() + "=" + (experiment ? d.experiment() : d.prepared()) + "'")
                .collect(Collectors.joining(" "));
    }

    static TextSpec textSpec(Experiment e, boolean overwrite) {
        Experiment.Data d = e.data();
        List<PrepareSpec.Target> targets = new ArrayList<>();
        for (String institute : e.institutes()) {
            targets.add(new PrepareSpec.Target(institute, d.locationOf(institute)));
        }
        return new TextSpec(d.dataset(), d.train(), d.test(), d.tokenizer(), d.context(), d.delimiter(), d.testFraction(),
                targets, TextSpec.Scheme.parse(d.scheme()), e.seed(), d.trainSubset(), d.testLocation(), overwrite);
    }

    static PrepareSpec spec(Experiment e, boolean overwrite) {
        Experiment.Data d = e.data();
        List<PrepareSpec.Target> targets = new ArrayList<>();
        for (String institute : e.institutes()) {
            targets.add(new PrepareSpec.Target(institute, d.locationOf(institute)));
        }
        long[] s = e.model().inputShape();
        return new PrepareSpec(d.dataset(), PrepareSpec.Format.parse(d.format()), d.train(), d.test(), d.classes(),
                new ImageShape((int) s[0], (int) s[1], (int) s[2]), targets, PrepareSpec.Scheme.parse(d.scheme()),
                d.alpha(), d.column(), e.seed(), d.trainSubset(), d.testLocation(), overwrite);
    }
}
