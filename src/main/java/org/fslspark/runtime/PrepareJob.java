package org.fslspark.runtime;

import org.apache.hadoop.conf.Configuration;
import org.fslspark.config.Experiment;
import org.fslspark.data.ImageShape;
import org.fslspark.data.Prepare;
import org.fslspark.data.PrepareSpec;
import org.fslspark.data.TextPrepare;
import org.fslspark.data.TextSpec;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

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
