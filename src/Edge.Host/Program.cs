using Edge.Host;

return await EdgeCommandLine.RunAsync(args).ConfigureAwait(false);
