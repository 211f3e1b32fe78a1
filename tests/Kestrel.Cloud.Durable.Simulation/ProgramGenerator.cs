namespace Kestrel.Cloud.Durable.Simulation;

/// <summary>Builds small random programs from the simulation's one seeded <see cref="Random"/>.</summary>
public static class ProgramGenerator
{
    /// <summary>Most steps in one program body.</summary>
    public const int MaxStepsPerProgram = 5;

    /// <summary>Most branches of one fan-out.</summary>
    public const int MaxFanOutBranches = 4;

    /// <summary>Most ContinueAsNew loops of one program.</summary>
    public const int MaxLoops = 2;

    /// <summary>Generates a program; sub-orchestrations nest at most <paramref name="maxDepth"/> levels.</summary>
    public static SimProgram Generate(Random random, int maxDepth)
    {
        ArgumentNullException.ThrowIfNull(random);
        int count = random.Next(1, MaxStepsPerProgram + 1);
        var steps = new List<SimStep>(count);
        for (int i = 0; i < count; i++)
        {
            steps.Add(GenerateStep(random, i.ToString(System.Globalization.CultureInfo.InvariantCulture), maxDepth));
        }

        int loops = random.Next(100) < 30 ? random.Next(1, MaxLoops + 1) : 0;
        bool carryEvent = loops > 0 && random.Next(2) == 0;
        bool failsAtEnd = random.Next(100) < 10;
        return new SimProgram(steps, loops) { CarryEvent = carryEvent, FailsAtEnd = failsAtEnd };
    }

    private static SimStep GenerateStep(Random random, string key, int maxDepth)
    {
        int roll = random.Next(100);
        if (roll < 35)
        {
            return Activity(random, key);
        }

        if (roll < 50)
        {
            int n = random.Next(2, MaxFanOutBranches + 1);
            var branches = new List<SimStep>(n);
            for (int b = 0; b < n; b++)
            {
                string branchKey = $"{key}b{b}";
                branches.Add(maxDepth > 0 && random.Next(100) < 25 ? Sub(random, branchKey, maxDepth) : Activity(random, branchKey));
            }

            return new SimStep { Kind = SimStepKind.FanOut, Key = key, Branches = branches };
        }

        if (roll < 55)
        {
            return new SimStep { Kind = SimStepKind.SendToSelf, Key = key };
        }

        if (roll < 60)
        {
            return new SimStep { Kind = SimStepKind.WaitForEventTwice, Key = key, RaiseAfterSeconds = random.Next(0, 3 * 3600), DelaySeconds = random.Next(1, 120) };
        }

        if (roll < 63)
        {
            return new SimStep { Kind = SimStepKind.WaitAfterTimeout, Key = key, DelaySeconds = random.Next(1, 3600) };
        }

        if (roll < 70)
        {
            return new SimStep { Kind = SimStepKind.Timer, Key = key, DelaySeconds = random.Next(1, 7200) };
        }

        if (roll < 87 || maxDepth == 0)
        {
            int mode = random.Next(100);
            return new SimStep
            {
                Kind = SimStepKind.WaitForEvent,
                Key = key,
                WaitMode = mode < 60 ? SimWaitMode.Raised : mode < 80 ? SimWaitMode.RaisedBeforeStart : SimWaitMode.NeverRaised,
                DelaySeconds = random.Next(60, 7200),
                RaiseAfterSeconds = random.Next(0, 3 * 3600),
            };
        }

        return Sub(random, key, maxDepth);
    }

    private static SimStep Activity(Random random, string key)
    {
        bool fails = random.Next(100) < 15;
        int attempts = random.Next(100) < 20 ? random.Next(2, 4) : 1;
        return new SimStep
        {
            Kind = SimStepKind.Activity,
            Key = key,
            Value = random.Next(1000),
            Fails = fails,
            Attempts = attempts,
            DelaySeconds = random.Next(1, 120),
        };
    }

    private static SimStep Sub(Random random, string key, int maxDepth)
    {
        int kind = random.Next(100);
        if (kind < 20)
        {
            // Retried: every attempt replaces the failed instance and runs the program again, so the program
            // must not depend on events the simulator raises once.
            SimProgram child = Retryable(Generate(random, 0)) with { FailsAtEnd = random.Next(100) < 70 };
            return new SimStep { Kind = SimStepKind.SubOrchestration, Key = key, Child = child, Attempts = random.Next(2, 4), DelaySeconds = random.Next(1, 600) };
        }

        bool sendsEvent = kind < 40;
        return new SimStep
        {
            Kind = SimStepKind.SubOrchestration,
            Key = key,
            Child = Generate(random, maxDepth - 1) with { WaitsForParentEvent = sendsEvent },
            SendsEvent = sendsEvent,
        };
    }

    private static SimProgram Retryable(SimProgram program) => program with
    {
        Steps = program.Steps.Select(s => s.Kind switch
        {
            SimStepKind.WaitForEvent => s with { WaitMode = SimWaitMode.NeverRaised },
            SimStepKind.WaitForEventTwice or SimStepKind.WaitAfterTimeout => new SimStep { Kind = SimStepKind.Timer, Key = s.Key, DelaySeconds = 60 },
            _ => s,
        }).ToList(),
    };
}
