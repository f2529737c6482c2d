package org.fslspark.runtime;

import org.apache.hadoop.conf.Configuration;
import org.fslspark.config.Experiment;
import org.fslspark.data.ImageShape;
import org.fslspark.data.Prepare;
import org.fslspark.data.PrepareSpec;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/** The `prepare` step of an experiment: its dataset partitioned to each institute's own location. */
public final class PrepareJob {
    private PrepareJob() {
    }

    public static Prepare.Result run(Experiment e, boolean overwrite, PrintStream out) {
        return Prepare.run(new Configuration(), spec(e, overwrite), out);
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
